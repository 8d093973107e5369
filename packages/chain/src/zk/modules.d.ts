// Minimal ambient declarations for the untyped packages the zk entry loads; the code narrows what
// it uses to local interfaces, so these only make the imports resolve.
declare module 'snarkjs'
declare module 'circomlibjs'
