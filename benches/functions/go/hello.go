package kubeless

import "github.com/kubeless/kubeless/pkg/functions"

// Foo is the Go hello world of the load benchmark.
func Foo(event functions.Event, context functions.Context) (string, error) {
	return "hello world", nil
}
