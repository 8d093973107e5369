import { TypedEventEmitter } from 'main-event'
import type { PowerState, ResourceSample, SampleSource } from '../src/index.js'

/** A sample with the figures a test sets (others absent). */
export function sampleOf(
  figures: { others?: number; host?: number; available?: number; rss?: number; power?: PowerState; time?: number } = {},
): ResourceSample {
  const total = 16 * 2 ** 30
  return {
    time: figures.time ?? Date.now(),
    spanMs: 1000,
    cpu: {
      cores: 4,
      host: figures.host ?? figures.others,
      perCore: undefined,
      processCores: 0,
      others: figures.others,
      loadAverage1m: 0,
    },
    memory: {
      totalBytes: total,
      availableBytes: figures.available ?? total / 2,
      usedShare: 1 - (figures.available ?? total / 2) / total,
      process: { rssBytes: figures.rss ?? 100 * 2 ** 20, heapUsedBytes: 0, heapTotalBytes: 0, externalBytes: 0 },
    },
    disk: {
      path: '/',
      totalBytes: undefined,
      freeBytes: undefined,
      readBytesPerSec: undefined,
      writeBytesPerSec: undefined,
    },
    network: { interfaces: {}, rxBytesPerSec: undefined, txBytesPerSec: undefined, libp2p: undefined },
    gpu: undefined,
    power: figures.power,
    failed: [],
  }
}

/** A sample source driven by the test. */
export class FakeSource extends TypedEventEmitter<{ sample: CustomEvent<ResourceSample> }> implements SampleSource {
  last: ResourceSample | undefined
  latest() {
    return this.last
  }
  push(sample: ResourceSample): void {
    this.last = sample
    this.dispatchEvent(new CustomEvent('sample', { detail: sample }))
  }
}
