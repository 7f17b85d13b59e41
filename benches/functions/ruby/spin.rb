# The respawn benchmark's function: ?mode=busy loops until fnhost kills the worker.
def handler(event, context)
  loop {} if event[:extensions][:request].params['mode'] == 'busy'
  'ok'
end
