module.exports = { foo: (event, context) => 'hello world' };
