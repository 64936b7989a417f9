/**
 * `webvcm/serve` (Node only): the receiver as a Fastify plugin for an application's own server, and the standalone
 * server of `webvcm serve` (docs/serve.md).
 */
export { webvcmReceiver, detectReplySchema, type ReceiverPluginOptions } from './plugin.ts';
export { Receiver, checkLimits, tokenMatches, type ReceiverOptions, type DetectReply } from './receiver.ts';
export { HttpProblem, PROBLEM_BASE, problemFromError, type Problem } from './problem.ts';
export { createServer, VcmServer, type ServeOptions } from './server.ts';
