# The Ruby peer of the load benchmark: the same hello.rb behind Ruby's own minimal HTTP
# server, WEBrick (Puma is not packaged for this machine), with a Kubeless-shaped event.
#   ruby ruby_peer.rb PORT
require 'webrick'
require_relative 'ruby/hello'

# WEBrick writes headers and body separately: without TCP_NODELAY every keep-alive response
# waits for the client's delayed ACK (about 40 ms).
class NoDelayServer < WEBrick::HTTPServer
  def run(sock)
    sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    super
  end
end

server = NoDelayServer.new(BindAddress: '127.0.0.1', Port: Integer(ARGV[0]),
                                 Logger: WEBrick::Log.new(nil, 0), AccessLog: [])
context = { 'function-name': 'foo', timeout: '180', runtime: 'ruby3.1', 'memory-limit': '0' }
server.mount_proc('/') do |req, res|
  event = { data: req.body.to_s, 'event-id': req['event-id'], extensions: { request: req } }
  res.body = foo(event, context)
end
trap('TERM') { server.shutdown }
server.start
