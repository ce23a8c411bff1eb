// Rendering a refusal belongs to the catalogue of refusals (src/refusals.ts); re-exported here
// for the adapters' import path.
export { type Rejection, renderRejection } from '../refusals.js';
