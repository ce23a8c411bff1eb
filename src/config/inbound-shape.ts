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
