// http-auth ships no types; the harness uses only basic({ realm, file }).check(listener).
declare module 'http-auth' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface Basic {
    check(
      listener: (req: IncomingMessage, res: ServerResponse) => void,
    ): (req: IncomingMessage, res: ServerResponse) => void;
  }
  const httpAuth: { basic(options: { realm: string; file: string }): Basic };
  export default httpAuth;
}
