package server

import _ "embed"

//go:embed openapi.json
var openapi []byte

// OpenAPI returns the OpenAPI 3 document served at /openapi.json. A test holds it
// against the routes the server really mounts.
func OpenAPI() []byte { return openapi }
