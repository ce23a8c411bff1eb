import { isSafeRealm } from '../challenge.js';
import type { InboundOptions } from '../inbound.js';
import { z } from './schema.js';

/**
 * The options every inbound middleware shares, as keys of each scheme's options schema: known
 * there (so they are not refused as unknown) but checked by the inbound pipeline
 * (validateInboundOptions), which owns their messages. Typed from {@link InboundOptions}, whose
 * TSDoc the schemes' option types inherit; `satisfies` keeps the key list equal to the interface.
 */
export const INBOUND_SHAPE = {
  mode: z.custom<InboundOptions['mode']>().optional(),
  publicPaths: z.custom<InboundOptions['publicPaths']>().optional(),
  delegateErrors: z.custom<InboundOptions['delegateErrors']>().optional(),
} satisfies { [K in keyof Required<InboundOptions>]: z.ZodType };

const REALM_PROBLEM = 'must be 1-200 printable ASCII characters without quotes or backslashes';

/** The `realm` option of a scheme that sends a challenge: safe inside a quoted string. */
export const REALM = z.string({ error: REALM_PROBLEM }).refine(isSafeRealm, { error: REALM_PROBLEM });
