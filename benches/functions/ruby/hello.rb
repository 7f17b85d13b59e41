# The Ruby hello world of the load benchmark.
def foo(event, context)
  'hello world'
end
