import type * as Ort from 'onnxruntime-node'
import { RuntimeError } from '../errors.js'

/** onnxruntime session settings shared by every graph `@vain/fl` runs. */
export interface SessionInit {
  /**
   * Threads onnxruntime may use inside one operator (`intraOpNumThreads`). Default 1: federated
   * simulations run many small sessions side by side, and small Gemms gain little from threads.
   */
  threads?: number
}

// onnxruntime-node (and its native library) is loaded on first use, never by importing this
// module: aggregators, codecs, strategies and the round protocol stay free of it
let ortLoading: Promise<typeof Ort> | undefined
let ortLoaded: typeof Ort | undefined

/** Loads onnxruntime-node once; failures become {@link RuntimeError} (and a later call retries). */
export function loadOrt(): Promise<typeof Ort> {
  ortLoading ??= import('onnxruntime-node').then(
    (m) => {
      ortLoaded = m
      return m
    },
    (err: unknown) => {
      ortLoading = undefined
      throw new RuntimeError(`onnxruntime-node could not be loaded: ${(err as Error).message}`, { cause: err })
    },
  )
  return ortLoading
}

/** Creates an ORT CPU session from ONNX bytes; failures become {@link RuntimeError}. */
export async function createSession(bytes: Uint8Array, init: SessionInit = {}): Promise<Ort.InferenceSession> {
  const ort = await loadOrt()
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: init.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    })
  } catch (err) {
    throw new RuntimeError(`onnxruntime could not create a session: ${(err as Error).message}`, { cause: err })
  }
}

/** Runs a session; failures become {@link RuntimeError}. */
export async function runSession(
  session: Ort.InferenceSession,
  feeds: Record<string, Ort.Tensor>,
  fetches?: Record<string, Ort.Tensor | null>,
): Promise<Ort.InferenceSession.OnnxValueMapType> {
  try {
    return await (fetches === undefined ? session.run(feeds) : session.run(feeds, fetches))
  } catch (err) {
    throw new RuntimeError(`onnxruntime run failed: ${(err as Error).message}`, { cause: err })
  }
}

/** A float32 tensor. Only after {@link loadOrt} resolved (every session is created through it). */
export function f32(data: Float32Array, dims: readonly number[]): Ort.Tensor {
  if (ortLoaded === undefined) throw new RuntimeError('onnxruntime-node is not loaded yet (create a session first)')
  return new ortLoaded.Tensor('float32', data, dims)
}

/** The Float32Array of a float32 output. */
export function f32Data(value: Ort.Tensor | undefined, name: string): Float32Array {
  if (value === undefined || !(value.data instanceof Float32Array)) {
    throw new RuntimeError(`onnxruntime output ${name} is missing or not float32`)
  }
  return value.data
}
