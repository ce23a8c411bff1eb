/** Where portcullis reports what an operator should know (key fetch failures, reloads). */
export interface Logger {
  warn(message: string): void;
  /** Routine events worth keeping (a custom provider's denial reason); warn is used without it. */
  info?(message: string): void;
}

/** Messages never contain credentials: callers pass only URLs, paths, counts and reasons. */
export const consoleLogger: Logger = {
  warn(message) {
    console.warn(`[portcullis] ${message}`);
  },
  info(message) {
    console.info(`[portcullis] ${message}`);
  },
};
