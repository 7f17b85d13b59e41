// Package functions provides the types of github.com/kubeless/kubeless/pkg/functions, so that
// unmodified Kubeless Go functions compile against fnhost (the build replaces the upstream
// module with this one).
package functions

import (
	"context"
	"net/http"
)

// Extension carries the HTTP request and response and the call's context (which carries
// the FUNC_TIMEOUT deadline).
type Extension struct {
	Request  *http.Request
	Response http.ResponseWriter
	Context  context.Context
}

// Event is what the function is called with.
type Event struct {
	Data           string
	EventID        string
	EventType      string
	EventTime      string
	EventNamespace string
	Extensions     Extension
}

// Context describes the function.
type Context struct {
	FunctionName string
	Timeout      string
	Runtime      string
	MemoryLimit  string
}
