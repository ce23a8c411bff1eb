import { z } from '../config/schema.js';
import type { SecretSource } from '../config/secret.js';
import type { CredentialLocation } from '../credentials/location.js';

/**
 * A secret option in a schema. Its forms (`'$VAR'`, `{ env }`, `{ file }`) are checked where it
 * is resolved (resolveSecret), which names a mistake at its own path (`key.value.env`) and
 * never repeats the value; the schema only gives the type.
 */
export const secretSource = () => z.custom<SecretSource>(() => true);

/** A required secret option: `undefined` is "is required". */
export const requiredSecret = () =>
  z.custom<SecretSource>((value) => value !== undefined, { error: 'is required' });

/**
 * A credential location in a schema, checked by `locator()` (credentials/location), the one
 * reader of locations inbound and outbound, when the kind is built.
 */
export const credentialLocation = () => z.custom<CredentialLocation>(() => true);

/** An agentgateway form that takes no options (`implicit: {}`, `workloadIdentity: {}`). */
export const emptyForm = () =>
  z.custom<Record<string, never>>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.getOwnPropertyNames(value).length === 0,
    { error: 'must be {}: it takes no options' },
  );
