/** `.lua` files are bundled as text (tsup `loader: { '.lua': 'text' }`, vitest's lua-as-text plugin). */
declare module '*.lua' {
  const source: string;
  export default source;
}
