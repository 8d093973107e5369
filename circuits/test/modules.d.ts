// The untyped packages the tests load; they narrow what they use to local types.
declare module 'snarkjs'
declare module 'circomlibjs'
