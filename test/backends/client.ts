// Clients the end-to-end tests use to talk to Envoy (or a backend) at a chosen address while
// sending a chosen Host / :authority / SNI. Re-exports the per-protocol modules.
export { httpRequest, hostWithoutPort, urlHost } from './http-client.ts';
export type { HttpRequestOptions, HttpResponse } from './http-client.ts';
export { grpcPing } from './grpc-client.ts';
export type { GrpcPingClient, GrpcPingOptions, PingStream } from './grpc-client.ts';
export { wsDial } from './ws-client.ts';
export type { WsConn, WsDialOptions } from './ws-client.ts';
export { runRequests, tally } from './run-requests.ts';
export type { Outcome, RunOptions } from './run-requests.ts';
