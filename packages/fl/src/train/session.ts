import * as ort from 'onnxruntime-node'
import { RuntimeError } from '../errors.js'

/** onnxruntime session settings shared by every graph `@vain/fl` runs. */
export interface SessionInit {
  /**
   * Threads onnxruntime may use inside one operator (`intraOpNumThreads`). Default 1: federated
   * simulations run many small sessions side by side, and small Gemms gain little from threads.
   */
  threads?: number
}

/** Creates an ORT CPU session from ONNX bytes; failures become {@link RuntimeError}. */
export async function createSession(bytes: Uint8Array, init: SessionInit = {}): Promise<ort.InferenceSession> {
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
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  fetches?: Record<string, ort.Tensor | null>,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  try {
    return await (fetches === undefined ? session.run(feeds) : session.run(feeds, fetches))
  } catch (err) {
    throw new RuntimeError(`onnxruntime run failed: ${(err as Error).message}`, { cause: err })
  }
}

/** A float32 tensor. */
export function f32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims)
}

/** The Float32Array of a float32 output. */
export function f32Data(value: ort.Tensor | undefined, name: string): Float32Array {
  if (value === undefined || !(value.data instanceof Float32Array)) {
    throw new RuntimeError(`onnxruntime output ${name} is missing or not float32`)
  }
  return value.data
}
