package audit

import "context"

// System returns ctx carrying the actor "system:<name>" with role "system",
// for changes made by the service itself or by a tool that seeds data (the
// demo catalogue, test fixtures, benchmarks) rather than by a person or a key.
// A context that already names an actor keeps it.
func System(ctx context.Context, name string) context.Context {
	if _, ok := ActorFrom(ctx); ok {
		return ctx
	}
	return WithActor(ctx, Actor{ID: "system:" + name, Role: "system", Route: name})
}
