import { describe, expect, it } from 'vitest'
import { median } from '../src/aggregators/index.js'
import {
  type ClientUpdate,
  createStrategy,
  fedAdagrad,
  fedAdam,
  fedAvg,
  fedAvgM,
  fedBuff,
  fedProx,
  fedYogi,
  polynomialStaleness,
  reptile,
  StrategyStateError,
} from '../src/strategies/index.js'

const f32 = (...xs: number[]) => Float32Array.from(xs)
const close = (actual: Float32Array, expected: ArrayLike<number>, digits = 6) => {
  expect(actual.length).toBe(expected.length)
  for (let j = 0; j < actual.length; j++) expect(actual[j]).toBeCloseTo(expected[j]!, digits)
}

describe('FedAvg family', () => {
  it('FedAvg is the sample-weighted mean; params and deltas are equivalent', () => {
    const global = f32(1, 1)
    const byParams = fedAvg().aggregate(global, [
      { params: f32(2, 0), numSamples: 1 },
      { params: f32(5, 3), numSamples: 3 },
    ])
    close(byParams, [(2 + 15) / 4, (0 + 9) / 4])
    const byDeltas = fedAvg().aggregate(global, [
      { delta: f32(1, -1), numSamples: 1 },
      { delta: f32(4, 2), numSamples: 3 },
    ])
    expect(Array.from(byDeltas)).toEqual(Array.from(byParams))
    close(fedAvg({ serverLr: 0.5 }).aggregate(global, [{ delta: f32(2, 2), numSamples: 1 }]), [2, 2])
    close(
      fedAvg({ weighting: 'uniform' }).aggregate(global, [
        { delta: f32(0, 0), numSamples: 1 },
        { delta: f32(4, 4), numSamples: 3 },
      ]),
      [3, 3],
    )
  })

  it('takes a robust aggregator and a staleness weighting', () => {
    const global = f32(0)
    const updates: ClientUpdate[] = [1, 2, 3, 1000, 4].map((x) => ({ delta: f32(x), numSamples: 10 }))
    expect(fedAvg({ aggregator: median() }).aggregate(global, updates)[0]).toBe(3)
    const stale = fedAvg({ staleness: polynomialStaleness(0.5) }).aggregate(global, [
      { delta: f32(1), numSamples: 1, staleness: 0 },
      { delta: f32(4), numSamples: 1, staleness: 3 }, // weight 1/2
    ])
    expect(stale[0]).toBeCloseTo((1 + 0.5 * 4) / 1.5, 6)
  })

  it('FedProx is FedAvg on the server and carries μ for the clients', () => {
    const updates = [
      { delta: f32(1, 2), numSamples: 2 },
      { params: f32(3, 3), numSamples: 1 },
    ]
    const s = fedProx({ mu: 0.01 })
    expect(s.name).toBe('fedprox')
    expect(s.proximalMu).toBe(0.01)
    expect(fedAvg().proximalMu).toBe(0)
    expect(Array.from(s.aggregate(f32(0, 0), updates))).toEqual(Array.from(fedAvg().aggregate(f32(0, 0), updates)))
  })

  it('FedAvgM accumulates server momentum', () => {
    const s = fedAvgM({ momentum: 0.5, serverLr: 1 })
    let g: Float32Array = f32(0)
    g = s.aggregate(g, [{ delta: f32(1), numSamples: 1 }]) // v = 1
    expect(g[0]).toBe(1)
    g = s.aggregate(g, [{ delta: f32(1), numSamples: 1 }]) // v = 1.5
    expect(g[0]).toBe(2.5)
    s.reset()
    expect(s.aggregate(f32(0), [{ delta: f32(1), numSamples: 1 }])[0]).toBe(1)
  })

  it('Reptile moves ε of the way to the mean of the client models, unweighted', () => {
    const global = f32(0, 10)
    const updates = [
      { params: f32(2, 10), numSamples: 100 },
      { params: f32(4, 14), numSamples: 1 },
    ]
    close(reptile({ epsilon: 0.5 }).aggregate(global, updates), [1.5, 11])
    const annealed = reptile({ epsilon: (r) => 1 / (r + 1) })
    close(annealed.aggregate(global, updates), [3, 12])
    close(annealed.aggregate(global, updates), [1.5, 11])
  })
})

describe('adaptive server optimizers (Reddi et al. 2021)', () => {
  function reference(
    kind: 'adam' | 'yogi' | 'adagrad',
    deltas: number[][],
    o = { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.01 },
  ) {
    const d = deltas[0]!.length
    const x = new Array(d).fill(0)
    const m = new Array(d).fill(0)
    const v = new Array(d).fill(o.tau * o.tau)
    const out: number[][] = []
    for (const delta of deltas) {
      for (let j = 0; j < d; j++) {
        const g = delta[j]!
        m[j] = o.beta1 * m[j] + (1 - o.beta1) * g
        if (kind === 'adam') v[j] = o.beta2 * v[j] + (1 - o.beta2) * g * g
        else if (kind === 'yogi') v[j] = v[j] - (1 - o.beta2) * g * g * Math.sign(v[j] - g * g)
        else v[j] = v[j] + g * g
        x[j] = Math.fround(x[j] + (o.eta * m[j]) / (Math.sqrt(v[j]) + o.tau))
      }
      out.push([...x])
    }
    return out
  }

  it('FedAdam, FedYogi and FedAdagrad follow Algorithm 2', () => {
    const deltas = [
      [0.1, -0.2, 0],
      [0.05, 0.3, 1],
      [-0.4, 0.1, 0.01],
    ]
    const opts = { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.01 }
    for (const [kind, make] of [
      ['adam', () => fedAdam(opts)],
      ['yogi', () => fedYogi(opts)],
      ['adagrad', () => fedAdagrad(opts)],
    ] as const) {
      const s = make()
      const expected = reference(kind, deltas, opts)
      let g: Float32Array = new Float32Array(3)
      deltas.forEach((delta, r) => {
        g = s.aggregate(g, [{ delta: Float32Array.from(delta), numSamples: 5 }])
        close(g, expected[r]!, 5)
      })
    }
  })

  it('state survives getState/setState, and is checked', () => {
    const a = fedAdam({ eta: 0.05 })
    let g: Float32Array = f32(0, 0)
    for (let r = 0; r < 3; r++) g = a.aggregate(g, [{ delta: f32(0.1 * r, -0.2), numSamples: 1 }])
    const saved = a.getState()
    expect(saved).toMatchObject({ strategy: 'fedadam', round: 3 })
    const b = fedAdam({ eta: 0.05 })
    b.setState(saved)
    const next = [{ delta: f32(0.3, 0.3), numSamples: 1 }]
    expect(Array.from(b.aggregate(g, next))).toEqual(Array.from(a.aggregate(g, next)))
    expect(() => fedYogi().setState(saved)).toThrow(StrategyStateError)
    expect(() =>
      fedAdam().setState({ ...saved, buffers: { m: new Float64Array(2), v: new Float64Array(3) } }),
    ).toThrowError(expect.objectContaining({ name: 'StrategyStateError' }))
    expect(() => a.aggregate(f32(0, 0, 0), [{ delta: f32(1, 1, 1), numSamples: 1 }])).toThrowError(
      expect.objectContaining({ name: 'ShapeMismatchError' }),
    )
  })
})

describe('FedBuff', () => {
  it('buffers K updates, weights them by 1/√(1+τ), and steps', () => {
    const s = fedBuff({ bufferSize: 3, serverLr: 1 })
    let g: Float32Array = f32(0)
    g = s.aggregate(g, [{ delta: f32(3), numSamples: 1, staleness: 0 }])
    g = s.aggregate(g, [{ delta: f32(3), numSamples: 9, staleness: 3 }])
    expect(g[0]).toBe(0)
    expect(s.pending).toBe(2)
    const saved = s.getState()
    g = s.aggregate(g, [{ delta: f32(3), numSamples: 1, staleness: 8 }])
    expect(g[0]).toBeCloseTo((3 + 3 / 2 + 3 / 3) / 3, 6)
    expect(s.pending).toBe(0)
    expect(s.getState().round).toBe(1)
    // restore mid-buffer and finish identically
    const t = fedBuff({ bufferSize: 3 })
    t.setState(saved)
    expect(t.pending).toBe(2)
    expect(t.aggregate(f32(0), [{ delta: f32(3), numSamples: 1, staleness: 8 }])[0]).toBe(g[0])
    // several steps in one call
    const u = fedBuff({ bufferSize: 2 })
    expect(
      u.aggregate(
        f32(0),
        [1, 1, 1, 1, 1].map((x) => ({ delta: f32(x), numSamples: 1 })),
      )[0],
    ).toBe(2)
    expect(u.pending).toBe(1)
  })

  it('accepts only deltas', () => {
    expect(() => fedBuff().aggregate(f32(0), [{ params: f32(1), numSamples: 1 }])).toThrowError(
      expect.objectContaining({ name: 'InvalidUpdateError' }),
    )
  })
})

describe('validation and specs', () => {
  it('rejects empty rounds, bad sample counts, mismatched lengths and non-finite values', () => {
    const s = fedAvg()
    expect(() => s.aggregate(f32(0), [])).toThrowError(expect.objectContaining({ name: 'NoUpdatesError' }))
    expect(() => s.aggregate(f32(0), [{ delta: f32(1), numSamples: 0 }])).toThrowError(
      expect.objectContaining({ name: 'InvalidUpdateError' }),
    )
    expect(() => s.aggregate(f32(0), [{ delta: f32(1), numSamples: -1 }])).toThrowError(
      expect.objectContaining({ name: 'InvalidUpdateError' }),
    )
    expect(() => s.aggregate(f32(0), [{ delta: f32(1, 2), numSamples: 1 }])).toThrowError(
      expect.objectContaining({ name: 'ShapeMismatchError' }),
    )
    expect(() => s.aggregate(f32(0), [{ delta: f32(Number.NaN), numSamples: 1 }])).toThrowError(
      expect.objectContaining({ name: 'InvalidUpdateError' }),
    )
    expect(() => fedAvgM({ momentum: 1 })).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
  })

  it('createStrategy builds every strategy from a validated spec', () => {
    for (const name of ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'fedbuff', 'reptile']) {
      expect(createStrategy({ name }).name).toBe(name)
    }
    expect(createStrategy({ name: 'fedprox', params: { mu: 0.1 } }).proximalMu).toBe(0.1)
    const robust = createStrategy({ name: 'fedavg', params: { stalenessExponent: 0.5 } }, { aggregator: median() })
    expect(
      robust.aggregate(
        f32(0),
        [1, 2, 100].map((x) => ({ delta: f32(x), numSamples: 1 })),
      )[0],
    ).toBe(2)
    expect(() => createStrategy({ name: 'fedsgd' })).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => createStrategy({ name: 'fedprox' })).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => createStrategy({ name: 'fedadam', params: { beta1: 1 } })).toThrowError(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })
})
