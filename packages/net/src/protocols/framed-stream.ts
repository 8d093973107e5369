/**
 * Length-prefixed frames over a libp2p 3 stream, with real backpressure both ways:
 * writes wait for `drain` when the muxer's send window is full, and reads pause the stream
 * (yamux then stops granting window to the remote) while more than `highWaterMark` bytes are
 * buffered and unread. Unlike `lpStream`, a slow reader never aborts a fast writer.
 * @module
 */
import type { AbortOptions, Stream, StreamMessageEvent } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidMessageError, MessageTooLargeError, TimeoutError, VainNetError } from '../errors.js'

/** Options for {@link FramedStream}. */
export interface FramedStreamOptions {
  /** Largest frame accepted from the remote, in bytes. */
  maxFrameBytes: number
  /** Pause reading when this many unread bytes are buffered. Default 4 MiB. */
  highWaterMark?: number
  /** Resume reading when the buffer falls below this. Default 1 MiB. */
  lowWaterMark?: number
}

/** The stream closed, reset or was aborted before a whole frame arrived. */
export class StreamClosedError extends VainNetError {
  static override name = 'StreamClosedError'
  override name = 'StreamClosedError'
}

const MAX_VARINT_BYTES = 9

/** Encode `n` as an unsigned LEB128 varint. */
export function encodeVarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`cannot varint-encode ${n}`)
  const out: number[] = []
  let v = n
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return Uint8Array.from(out)
}

/**
 * Reads and writes length-prefixed frames on a {@link Stream}.
 *
 * @example
 * ```ts
 * const framed = new FramedStream(stream, { maxFrameBytes: 1 << 20 })
 * await framed.write(new TextEncoder().encode('hello'))
 * const reply = await framed.read({ signal: AbortSignal.timeout(5000) }) // Uint8Array | null
 * ```
 */
export class FramedStream {
  readonly stream: Stream
  private readonly buffer = new Uint8ArrayList()
  private readonly maxFrameBytes: number
  private readonly highWaterMark: number
  private readonly lowWaterMark: number
  private ended = false
  private failure: Error | undefined
  private wake: PromiseWithResolvers<void> | undefined
  /** Header + body bytes of the frame being read, once its header arrived; 0 between frames. */
  private pendingFrameBytes = 0
  /** Bytes read from the remote so far (frame headers included). */
  bytesRead = 0
  /** Bytes written to the remote so far (frame headers included). */
  bytesWritten = 0

  constructor(stream: Stream, options: FramedStreamOptions) {
    this.stream = stream
    this.maxFrameBytes = options.maxFrameBytes
    this.highWaterMark = options.highWaterMark ?? 4 * 1024 * 1024
    this.lowWaterMark = Math.min(options.lowWaterMark ?? 1024 * 1024, this.highWaterMark)
    // while paused, up to one muxer window of in-flight data lands in the stream's own buffer
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, this.highWaterMark + 32 * 1024 * 1024)
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('close', this.onClose)
    stream.addEventListener('remoteCloseWrite', this.onRemoteCloseWrite)
    if (stream.readStatus === 'closed' || stream.readStatus === 'closing') this.ended = true
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    this.buffer.append(evt.data)
    this.bytesRead += evt.data.byteLength
    // a frame already announced (and within maxFrameBytes) is read whole without pausing
    const limit = Math.max(this.highWaterMark, this.pendingFrameBytes)
    if (this.buffer.byteLength > limit && this.stream.readStatus === 'readable') {
      this.stream.pause()
    }
    this.notify()
  }

  private readonly onClose = (evt: Event & { error?: Error }): void => {
    this.ended = true
    if (evt.error != null) this.failure = evt.error
    this.notify()
  }

  private readonly onRemoteCloseWrite = (): void => {
    this.ended = true
    this.notify()
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.resolve()
  }

  /**
   * Resume a paused stream so it hands over what it buffered meanwhile. Returns true when that
   * added bytes to our buffer.
   */
  private flushPaused(): boolean {
    if (this.stream.readStatus !== 'paused') return false
    const before = this.buffer.byteLength
    try {
      this.stream.resume()
    } catch {
      // closing: nothing more will arrive anyway
    }
    return this.buffer.byteLength > before
  }

  private maybeResume(): void {
    if (this.stream.readStatus === 'paused' && this.buffer.byteLength < this.lowWaterMark) {
      try {
        this.stream.resume()
      } catch {
        // closing: nothing more will arrive anyway
      }
    }
  }

  private async waitForData(options: AbortOptions): Promise<void> {
    const signal = options.signal
    if (signal?.aborted === true) throw abortReason(signal)
    this.wake = Promise.withResolvers<void>()
    if (signal === undefined) {
      await this.wake.promise
      return
    }
    const wake = this.wake
    const onAbort = (): void => wake.reject(abortReason(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await wake.promise
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Read the next frame. Returns `null` when the remote closed its side cleanly between frames.
   * @throws {MessageTooLargeError} when the announced frame length exceeds `maxFrameBytes`
   * @throws {InvalidMessageError} on a malformed length prefix
   * @throws {StreamClosedError} when the stream ends mid-frame or was reset
   * @throws {TimeoutError} when `signal` fires first
   */
  async read(options: AbortOptions = {}): Promise<Uint8Array | null> {
    for (;;) {
      const header = this.tryHeader()
      if (header !== undefined) {
        const [length, headerBytes] = header
        if (length > this.maxFrameBytes) {
          throw new MessageTooLargeError(length, this.maxFrameBytes)
        }
        if (this.buffer.byteLength >= headerBytes + length) {
          const frame = this.buffer.subarray(headerBytes, headerBytes + length)
          this.buffer.consume(headerBytes + length)
          this.pendingFrameBytes = 0
          this.maybeResume()
          return frame
        }
        // a frame larger than the high-water mark must still be able to complete: keep reading
        // until all of it is here (its length was checked against maxFrameBytes above)
        this.pendingFrameBytes = headerBytes + length
        if (this.flushPaused()) continue
      }
      // the stream can report its end (remote close, or a clean close of both sides) while it
      // still holds bytes it received while paused: they are part of the data, read them first
      if (this.ended && this.flushPaused()) continue
      if (this.ended) {
        if (this.failure !== undefined) {
          throw new StreamClosedError(`stream failed: ${this.failure.message}`, { cause: this.failure })
        }
        if (this.buffer.byteLength === 0) return null
        throw new StreamClosedError(`stream ended mid-frame with ${this.buffer.byteLength} unread bytes`)
      }
      await this.waitForData(options)
    }
  }

  /** Parse the varint length prefix, or undefined if more bytes are needed. */
  private tryHeader(): [number, number] | undefined {
    let value = 0
    let multiplier = 1
    const available = Math.min(this.buffer.byteLength, MAX_VARINT_BYTES)
    for (let i = 0; i < available; i++) {
      const byte = this.buffer.get(i)
      value += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new InvalidMessageError('non-minimal frame length prefix')
        return [value, i + 1]
      }
      multiplier *= 0x80
    }
    if (this.buffer.byteLength >= MAX_VARINT_BYTES) {
      throw new InvalidMessageError('frame length prefix is too long')
    }
    return undefined
  }

  /** Write one frame, waiting for the muxer to drain when its send window is full. */
  async write(frame: Uint8Array | Uint8ArrayList, options: AbortOptions = {}): Promise<void> {
    const header = encodeVarint(frame.byteLength)
    const list = new Uint8ArrayList(header, frame)
    this.bytesWritten += list.byteLength
    await this.send(list, options)
  }

  private async send(data: Uint8ArrayList, options: AbortOptions): Promise<void> {
    if (this.stream.writeStatus !== 'writable') {
      throw new StreamClosedError(`cannot write: stream is ${this.stream.writeStatus}`)
    }
    if (!this.stream.send(data)) {
      try {
        await this.stream.onDrain(options)
      } catch (err) {
        if (options.signal?.aborted === true) throw abortReason(options.signal)
        throw new StreamClosedError(`stream closed while waiting to write: ${(err as Error).message}`, {
          cause: err,
        })
      }
    }
  }

  /** Close our writing side and wait for written data to flush. */
  async closeWrite(options: AbortOptions = {}): Promise<void> {
    try {
      await this.stream.close(options)
    } catch (err) {
      this.stream.abort(err as Error)
    }
  }

  /** Abort the stream (sends a reset) and release listeners. */
  abort(err: Error): void {
    this.release()
    this.stream.abort(err)
  }

  /** Remove event listeners (the stream itself stays as it is). */
  release(): void {
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('remoteCloseWrite', this.onRemoteCloseWrite)
  }
}

/** Turn an AbortSignal's reason into our {@link TimeoutError}. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof VainNetError) return reason
  const message = reason instanceof Error ? reason.message : 'operation aborted'
  return new TimeoutError(message, { cause: reason })
}
