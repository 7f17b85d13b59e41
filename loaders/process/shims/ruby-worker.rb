# fnhost's Ruby worker: loads a Kubeless Ruby function unchanged (a top-level
# `def handler(event, context)`) and serves calls from fnhost over the worker protocol
# (docs/worker-protocol.md). Started by fnhost as
#   ruby ruby-worker.rb
# with FNHOST_WORKER_SOCKET, FNHOST_FUNCTION_DIR, MOD_NAME, FUNC_HANDLER and FNHOST_CONTEXT
# (the function's context as JSON) in the environment. Standard library only.
require 'json'
require 'socket'
require 'stringio'
require 'uri'

$stdout.sync = true
$stderr.sync = true

module FnhostWorker
  PROTOCOL = 2
  READY = 1
  CALL = 2
  RESULT = 3
  THREADS = Integer(ENV.fetch('FNHOST_WORKER_CONCURRENCY', '16'))

  # What Kubeless functions used of Sinatra's request (a Rack::Request): method, path,
  # query, headers, body and the Rack environment.
  class Request
    attr_reader :request_method, :path_info, :query_string, :headers, :body, :env

    def initialize(call, body)
      @request_method = call['method']
      @path_info = call['path']
      @query_string = call['query']
      @headers = {}
      call['headers'].each do |name, value|
        @headers[name] = @headers.key?(name) ? "#{@headers[name]}, #{value}" : value
      end
      @body = StringIO.new(body)
      @env = rack_env
    end

    def path = @path_info
    def fullpath = @query_string.empty? ? @path_info : "#{@path_info}?#{@query_string}"
    def params = @params ||= URI.decode_www_form(@query_string).to_h
    alias GET params
    def [](name) = params[name.to_s]
    def get_header(name) = @env[name]
    def content_type = @headers['content-type']
    def media_type = content_type&.split(';')&.first&.strip&.downcase
    def content_length = @headers['content-length']

    %w[GET POST PUT PATCH DELETE HEAD OPTIONS].each do |verb|
      define_method("#{verb.downcase}?") { @request_method == verb }
    end

    private

    def rack_env
      env = {
        'REQUEST_METHOD' => @request_method, 'PATH_INFO' => @path_info,
        'QUERY_STRING' => @query_string, 'rack.input' => @body
      }
      @headers.each do |name, value|
        key = name.upcase.tr('-', '_')
        key = "HTTP_#{key}" unless %w[CONTENT_TYPE CONTENT_LENGTH].include?(key)
        env[key] = value
      end
      env
    end
  end

  # Where a function sets its status and headers (`event[:extensions][:response]`).
  class Response
    attr_accessor :status
    attr_reader :headers

    def initialize
      @status = 200
      @headers = {}
    end

    # Header names are case-insensitive: setting `Content-Type` replaces `content-type`.
    def []=(name, value)
      @headers.delete_if { |key, _| key.casecmp?(name.to_s) }
      @headers[name.to_s] = value
    end

    def [](name) = @headers.find { |key, _| key.casecmp?(name.to_s) }&.last

    def content_type=(value)
      self['content-type'] = value
    end

    def header_list
      @headers.flat_map { |name, value| Array(value).map { |v| [name.to_s, v.to_s] } }
    end
  end

  def self.load_function
    dir = ENV['FNHOST_FUNCTION_DIR'] || ENV['MOD_ROOT_PATH'] || '/kubeless'
    mod_name = ENV.fetch('MOD_NAME')
    handler = ENV.fetch('FUNC_HANDLER')
    file = File.join(dir, "#{mod_name}.rb")
    $LOAD_PATH.unshift(dir)
    function = Module.new
    function.module_eval(File.read(file), file, 1)
    function.instance_method(handler.to_sym) # a NameError when the file has no such method
    function.extend(function) # the handler and its helper methods callable on the module
    [function, handler.to_sym]
  rescue StandardError, ScriptError => e
    warn "No valid function found for the name: #{mod_name}.#{handler}, failed to import module"
    warn "#{e.class}: #{e.message}"
    warn e.backtrace.first(10).join("\n") if e.backtrace
    exit 1
  end

  # fnhost's one context, with the timeout as text like Kubeless's FUNC_TIMEOUT ("180").
  def self.context
    given = JSON.parse(ENV.fetch('FNHOST_CONTEXT'))
    timeout = given['timeout']
    {
      'function-name': given['function-name'],
      timeout: timeout == timeout.to_i ? timeout.to_i.to_s : timeout.to_s,
      runtime: given['runtime'],
      'memory-limit': given['memory-limit']
    }
  end

  # fnhost decided what the body is (empty, json or raw) and checked the JSON.
  def self.event_data(call, body)
    return '' if body.empty?

    text = body.dup.force_encoding(Encoding::UTF_8)
    call['data'] == 'json' ? JSON.parse(text) : text
  end

  def self.event(call, body, response)
    request = Request.new(call, body)
    {
      data: event_data(call, body),
      'event-id': call['event']['id'],
      'event-type': call['event']['type'],
      'event-time': call['event']['time'],
      'event-namespace': call['event']['namespace'],
      extensions: { request: request, response: response }
    }
  end

  # Sinatra's rules for return values (String body, Integer status, [status, headers,
  # body] or [status, body]), plus JSON for hashes and other values.
  def self.result(value, response)
    case value
    when nil then ''
    when String then value
    when Integer
      response.status = value
      ''
    when Array
      return json(value, response) unless value.first.is_a?(Integer) && [2, 3].include?(value.size)

      response.status = value.first
      value[1].each { |name, v| response[name] = v } if value.size == 3
      body = value.last
      body.respond_to?(:each) && !body.is_a?(String) ? body.to_enum(:each).to_a.join : body.to_s
    else
      json(value, response)
    end
  end

  def self.json(value, response)
    response['content-type'] ||= 'application/json'
    JSON.generate(value)
  end

  # One connection to fnhost: frames in on the main thread, calls on a pool of threads.
  class Connection
    def initialize(socket, function, handler)
      @socket = socket
      @function = function
      @handler = handler
      @context = FnhostWorker.context
      @write_lock = Mutex.new
      @calls = Queue.new
    end

    def serve
      threads = Array.new(THREADS) { Thread.new { work } }
      send_frame(READY, 0, { protocol: PROTOCOL, concurrency: THREADS,
                             description: "ruby #{RUBY_VERSION} pid #{Process.pid}" }, '')
      while (frame = read_frame)
        kind, id, header, body = frame
        @calls << [id, header, body] if kind == CALL
      end
      exit 0
    ensure
      threads&.each(&:kill)
    end

    private

    def work
      while (id, header, body = @calls.pop)
        call(id, header, body)
      end
    end

    def call(id, header, body)
      response = Response.new
      value = @function.send(@handler, FnhostWorker.event(header, body, response), @context)
      out = FnhostWorker.result(value, response)
      send_frame(RESULT, id, { status: response.status, headers: response.header_list }, out)
    rescue SystemExit => e
      exit!(e.status) # the function ended its process, as it would have its own server
    rescue Exception => e # rubocop:disable Lint/RescueException -- any failure is the call's 500
      report(id, e)
    end

    # Sends the failure; the message may hold any bytes (a JSON error quotes the body).
    def report(id, error)
      trace = ([error.message] + Array(error.backtrace).first(20)).join("\n  ")
      send_frame(RESULT, id, { error: "Function failed to execute: #{error.class}: #{trace}".scrub }, '')
    rescue StandardError => e
      send_frame(RESULT, id, { error: "Function failed to execute (#{e.class} while reporting its error)" }, '')
    end

    def read_exact(size)
      data = @socket.read(size)
      data if data && data.bytesize == size
    end

    def read_frame
      length = read_exact(4)&.unpack1('L<') or return nil
      frame = read_exact(length) or return nil
      kind, id, header_length = frame.unpack('CQ<L<')
      header = JSON.parse(frame.byteslice(13, header_length))
      [kind, id, header, frame.byteslice(13 + header_length, length)]
    end

    def send_frame(kind, id, header, body)
      header_bytes = JSON.generate(header).b
      body = body.to_s.b
      prefix = [1 + 8 + 4 + header_bytes.bytesize + body.bytesize, kind, id, header_bytes.bytesize]
      @write_lock.synchronize { @socket.write(prefix.pack('L<CQ<L<'), header_bytes, body) }
    end
  end
end

function, handler = FnhostWorker.load_function
socket = UNIXSocket.new(ENV.fetch('FNHOST_WORKER_SOCKET'))
FnhostWorker::Connection.new(socket, function, handler).serve
