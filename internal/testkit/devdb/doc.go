// Package devdb holds pg.sh, the script `make run` and `make test` use to find or
// start PostgreSQL: DATABASE_URL when set, else a server on 127.0.0.1:5432, else a
// private cluster under the repository (installing Debian's postgresql package
// first when no binaries exist). The test here proves the private path by making
// the probe find nothing.
package devdb
