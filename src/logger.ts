/** Where portcullis reports what an operator should know (key fetch failures, reloads). */
export interface Logger {
  warn(message: string): void;
}

/** Messages never contain credentials: callers pass only URLs, paths, counts and reasons. */
export const consoleLogger: Logger = {
  warn(message) {
    console.warn(`[portcullis] ${message}`);
  },
};
