// unix-crypt-td-js ships no types: one function, the traditional DES crypt(3).
declare module 'unix-crypt-td-js' {
  export default function unixCryptTD(password: string, salt: string): string;
}
