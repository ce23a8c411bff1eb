import { CredentialFetchError } from './refreshing.js';

/**
 * Loads an optional peer dependency the first time a feature needs it, so a gateway that never
 * signs for AWS never loads (or needs to install) the AWS SDK. A missing package is a refusal
 * with an install hint, reported when the feature is first used.
 */
export async function loadOptionalPeer<T>(specifier: string, feature: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new CredentialFetchError(
        `${feature} needs the optional package ${specifier} (npm install ${specifier})`,
        'refused',
      );
    }
    throw error;
  }
}
