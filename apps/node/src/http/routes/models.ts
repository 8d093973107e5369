/**
 * Models: read one (raw, or exported as a standard ONNX inference model), upload an ONNX model
 * (its content id back), and take an external trainer's signed update (`POST /api/model/update`).
 * @module
 */
import {
  countParameters,
  decodeModel,
  encodeModel,
  exportOnnx,
  importOnnx,
  ModelAddressSchema,
  openRoundMessage,
  parseArchitecture,
} from '@vain/fl'
import { z } from 'zod'
import { ApiError } from '../errors.js'
import { verifyUpdateSignature } from '../external-updates.js'
import type { ApiApp, ApiParts, RouteOptions } from '../parts.js'
import {
  errors,
  ModelParamsSchema,
  ModelUpdateResultSchema,
  ModelUpdateSchema,
  UploadResultSchema,
} from '../schemas.js'

/** Largest ONNX upload. */
export const MAX_UPLOAD_BYTES = 256 * 1024 * 1024

async function modelBytes(parts: ApiParts, address: string): Promise<Uint8Array> {
  if (!ModelAddressSchema.safeParse(address).success) {
    throw new ApiError(400, 'InvalidModelAddress', 'a model address is its content id (bafy…)')
  }
  try {
    return await parts.models.get(address, { signal: AbortSignal.timeout(30_000) })
  } catch (err) {
    if ((err as Error).name === 'InvalidModelAddressError') {
      throw new ApiError(400, 'InvalidModelAddress', (err as Error).message)
    }
    throw new ApiError(404, 'ModelNotFound', (err as Error).message)
  }
}

const binary = z.any().describe('application/octet-stream')

export function modelRoutes(app: ApiApp, parts: ApiParts, { hide }: RouteOptions): void {
  app.get(
    '/models/:address',
    {
      schema: {
        hide,
        tags: ['models'],
        summary: 'A stored model (vAIn encoding)',
        params: ModelParamsSchema,
        response: { 200: binary, ...errors(400, 404) },
      },
    },
    async (request, reply) =>
      reply.type('application/octet-stream').send(Buffer.from(await modelBytes(parts, request.params.address))),
  )
  app.get(
    '/models/:address/onnx',
    {
      schema: {
        hide,
        tags: ['models'],
        summary: 'A stored model exported as an ONNX inference model',
        params: ModelParamsSchema,
        response: { 200: binary, ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      const bytes = await modelBytes(parts, request.params.address)
      return reply.type('application/octet-stream').send(Buffer.from(exportOnnx(decodeModel(bytes))))
    },
  )
  if (hide) return
  app.post(
    '/models',
    {
      bodyLimit: MAX_UPLOAD_BYTES,
      config: { contentType: 'application/octet-stream' },
      schema: {
        tags: ['models'],
        summary:
          'Upload an ONNX model (body: the .onnx file, Content-Type: application/octet-stream); answers its content id',
        response: { 201: UploadResultSchema, ...errors(400, 401, 413, 415) },
      },
    },
    async (request, reply) => {
      const body = request.body
      if (!(body instanceof Uint8Array) || body.length === 0)
        throw new ApiError(400, 'InvalidModel', 'the body must be an ONNX file')
      let model: ReturnType<typeof importOnnx>
      try {
        model = importOnnx(body, { maxBytes: MAX_UPLOAD_BYTES })
      } catch (err) {
        throw new ApiError(
          400,
          (err as Error).name === 'Error' ? 'InvalidModel' : (err as Error).name,
          (err as Error).message,
        )
      }
      const address = await parts.models.put(encodeModel(model))
      return reply.code(201).send({ address, bytes: body.length, params: model.params.length })
    },
  )
  app.post(
    '/model/update',
    {
      config: { invalidName: 'InvalidModelUpdate' },
      schema: {
        tags: ['models', 'training'],
        summary: 'An update from an external trainer for a job’s round, signed with a key this node accepts',
        description:
          'The trainer uploads its trained model (POST /api/models), then signs, with an Ed25519 key listed in <dataDir>/trainer-keys, the UTF-8 bytes of "vain/model-update/v1\\n" + JSON {"jobId","round","model","numSamples"} (that order). The node sends the model as its own update in that round instead of training.',
        body: ModelUpdateSchema,
        response: { 202: ModelUpdateResultSchema, ...errors(400, 401, 403, 404, 409, 415, 501) },
      },
    },
    async (request, reply) => {
      const ext = parts.externalUpdates
      if (ext === undefined)
        throw new ApiError(
          501,
          'ExternalUpdatesOff',
          'this node does not train (it has no local data, or not the trainer role): it takes no external updates',
        )
      const { jobId, round, model, numSamples } = request.body
      const publicKey = request.body.publicKey.toLowerCase()
      if (!(await ext.trainerKeys()).includes(publicKey)) {
        throw new ApiError(
          403,
          'UnknownTrainerKey',
          'this node does not accept updates signed with that key (add it to <dataDir>/trainer-keys)',
        )
      }
      if (
        !verifyUpdateSignature(
          { jobId, round, model, numSamples },
          Buffer.from(publicKey, 'hex'),
          Buffer.from(request.body.signature, 'hex'),
        )
      ) {
        throw new ApiError(403, 'InvalidSignature', 'the signature does not verify with that key over this update')
      }
      const state = parts.participant.status(jobId)
      if (state === undefined) throw new ApiError(404, 'JobNotFound', `no job ${jobId} runs on this node`)
      if (round < state.round) {
        throw new ApiError(
          409,
          'StaleRound',
          `round ${round} of job ${jobId} is over (the job is at round ${state.round})`,
        )
      }
      const spec = openRoundMessage('job', state.announcement).spec
      const trained = decodeModel(await modelBytes(parts, model))
      const expected = countParameters(parseArchitecture(spec.architecture))
      if (trained.params.length !== expected) {
        throw new ApiError(
          400,
          'ModelMismatch',
          `the model has ${trained.params.length} parameters; job ${jobId}'s architecture has ${expected}`,
        )
      }
      ext.queue.add({ jobId, round, model, numSamples, trainer: publicKey, receivedAt: Date.now() }, spec)
      return reply.code(202).send({ accepted: true as const, jobId, round, trainer: publicKey })
    },
  )
}
