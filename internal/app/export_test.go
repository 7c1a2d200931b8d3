package app

// CloseWriters is closeWriters, for apps the tests build without running.
func (a *App) CloseWriters() { a.closeWriters() }
