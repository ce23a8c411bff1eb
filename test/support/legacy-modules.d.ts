// The compatibility run loads Express 4 and Koa 2 through npm aliases; their shapes are
// those of the current majors for everything the tests touch.
declare module 'express4' {
  import express from 'express';
  export default express;
}
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
