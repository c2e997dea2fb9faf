// node:http, loaded with require() instead of an ESM import. An ESM import of a builtin reads every
// export of it to build the module namespace, and node:http's exports include lazy getters
// (WebSocket, CloseEvent, MessageEvent) that load undici, Node's fetch implementation (a 745 KB
// bundle kgw never uses): +13 MiB RSS and +2.8 MiB heap in a fresh process (Node 24.21). require()
// does not touch those getters. Everything in operator/ and webhook/ takes node:http from here
// (node-http.test.ts checks it); types may still come from `import type … from 'node:http'`.
import { createRequire } from 'node:module';
import type * as NodeHttp from 'node:http';

export const http = createRequire(import.meta.url)('node:http') as typeof NodeHttp;
