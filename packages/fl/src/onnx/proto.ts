import type { onnx as types } from 'onnx-proto'
import onnxProto from 'onnx-proto'

/** The protobufjs static module of the ONNX schema (onnx-proto is CommonJS). */
export const { onnx } = onnxProto

export type ModelProto = types.ModelProto
export type ModelProtoInit = types.IModelProto
export type NodeProto = types.INodeProto
export type TensorProto = types.ITensorProto
export type ValueInfoProto = types.IValueInfoProto
export type AttributeProto = types.IAttributeProto
