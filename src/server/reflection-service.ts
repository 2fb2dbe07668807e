import { fileURLToPath } from "node:url";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescEnum, DescFile, DescMessage, FileRegistry } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { ConnectRouter } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1 } from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * The contract's FileDescriptorSet as `buf build` writes it (npm run
 * generate; check:generated keeps it fresh): the same files as the embedded
 * descriptors of gen/ts, plus their source info, i.e. the proto comments.
 * protoc-gen-es leaves source info out of the code it generates. Found
 * beside gen/ts, as this module finds gen/ts: in the repository from src/,
 * and in dist/gen (npm run build copies it there) from the compiled dist/src.
 */
export const CONTRACT_DESCRIPTOR_SET = fileURLToPath(new URL("../../gen/descriptors/billing.binpb", import.meta.url));

/**
 * The request of ServerReflectionInfo as both grpc.reflection.v1 and v1alpha
 * define it, so one implementation answers both versions.
 */
export interface ReflectionRequest {
  host: string;
  messageRequest:
    | { case: "fileByFilename"; value: string }
    | { case: "fileContainingSymbol"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: "allExtensionNumbersOfType"; value: string }
    | { case: "listServices"; value: string }
    | { case: undefined; value?: undefined };
}

/**
 * The message_response of ServerReflectionInfo, shared by both versions like
 * ReflectionRequest. Failures are answers too: the reflection protocol reports
 * them in error_response and keeps the stream open for the next question.
 */
export type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Answers reflection questions about a fixed set of files. Built once at
 * startup, so each question is a map lookup, and separate from the router so
 * a test can ask it questions without a server.
 */
export interface ReflectionIndex {
  /** Answers one ServerReflectionInfo request. */
  answer(request: ReflectionRequest): ReflectionAnswer;
}

/**
 * Indexes files and everything they import. Throws when an import is missing
 * or two files define the same name, so a broken descriptor set fails at
 * startup rather than in a client's reflection session.
 *
 * list_services names the services of `files` only; pass the reflection and
 * health files too for them to be listed.
 *
 * `described` is a serialized FileDescriptorSet (CONTRACT_DESCRIPTOR_SET):
 * each of its files that is also among `files` (or their imports) is served
 * from it instead, source info included, so grpcurl describe shows the
 * comments. Default none.
 */
export function createReflectionIndex(files: DescFile[], described?: Uint8Array): ReflectionIndex {
  const withComments = new Map<string, FileDescriptorProto>(
    described === undefined ? [] : fromBinary(FileDescriptorSetSchema, described).file.map((file) => [file.name, file]),
  );
  const registry = createFileRegistry(
    create(FileDescriptorSetSchema, { file: withImportsFirst(files).map((file) => withComments.get(file.proto.name) ?? file.proto) }),
  );
  const serviceNames = unique(files.flatMap((file) => file.services.map((service) => service.typeName)));
  const symbols = indexSymbols(registry);
  const extensionNumbers = indexExtensionNumbers(registry);
  const serializedFiles = new Map<string, Uint8Array>();

  // The file first, then every file it imports, however indirectly: a client
  // can only build the file's descriptor once it has all of them. Each answer
  // carries the whole closure, so it never depends on earlier answers.
  function descriptorsOf(file: DescFile): ReflectionAnswer {
    const closure = new Map<string, DescFile>([[file.proto.name, file]]);
    for (const member of closure.values()) {
      for (const dependency of member.dependencies) {
        closure.set(dependency.proto.name, dependency);
      }
    }
    const fileDescriptorProto = [...closure.values()].map((member) => {
      let bytes = serializedFiles.get(member.proto.name);
      if (bytes === undefined) {
        bytes = toBinary(FileDescriptorProtoSchema, member.proto);
        serializedFiles.set(member.proto.name, bytes);
      }
      return bytes;
    });
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
  }

  return {
    answer({ messageRequest }) {
      switch (messageRequest.case) {
        case "listServices":
          return {
            case: "listServicesResponse",
            value: { service: serviceNames.map((name) => ({ name })) },
          };
        case "fileByFilename": {
          const file = registry.getFile(messageRequest.value);
          return file ? descriptorsOf(file) : notFound(`file ${messageRequest.value} not found`);
        }
        case "fileContainingSymbol": {
          const name = withoutLeadingDot(messageRequest.value);
          const file = symbols.get(name);
          return file ? descriptorsOf(file) : notFound(`symbol ${name} not found`);
        }
        case "fileContainingExtension": {
          const { containingType, extensionNumber } = messageRequest.value;
          const extendee = registry.getMessage(withoutLeadingDot(containingType));
          const extension = extendee ? registry.getExtensionFor(extendee, extensionNumber) : undefined;
          return extension
            ? descriptorsOf(extension.file)
            : notFound(`extension ${extensionNumber} of ${containingType} not found`);
        }
        case "allExtensionNumbersOfType": {
          const baseTypeName = withoutLeadingDot(messageRequest.value);
          if (registry.getMessage(baseTypeName) === undefined) {
            return notFound(`message type ${baseTypeName} not found`);
          }
          return {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName, extensionNumber: extensionNumbers.get(baseTypeName) ?? [] },
          };
        }
        default:
          return {
            case: "errorResponse",
            value: { errorCode: Code.InvalidArgument, errorMessage: "request names no question" },
          };
      }
    },
  };
}

/**
 * Serves gRPC server reflection for `files` (see createReflectionIndex) as
 * both grpc.reflection.v1 and grpc.reflection.v1alpha: grpcurl and most tools
 * ask v1 first and fall back to v1alpha, and older clients only know v1alpha.
 * `described` as for createReflectionIndex.
 */
export function registerReflection(router: ConnectRouter, files: DescFile[], described?: Uint8Array): void {
  const index = createReflectionIndex(files, described);
  router.service(ServerReflectionV1, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield { validHost: request.host, originalRequest: request, messageResponse: index.answer(request) };
      }
    },
  });
  router.service(ServerReflectionV1alpha, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield { validHost: request.host, originalRequest: request, messageResponse: index.answer(request) };
      }
    },
  });
}

function notFound(errorMessage: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage } };
}

function withoutLeadingDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

// A FileDescriptorSet must list every file after the files it imports.
function withImportsFirst(files: DescFile[]): DescFile[] {
  const ordered = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (ordered.has(file.proto.name)) {
      return;
    }
    file.dependencies.forEach(visit);
    ordered.set(file.proto.name, file);
  };
  files.forEach(visit);
  return [...ordered.values()];
}

// Every fully-qualified name a client may ask file_containing_symbol about:
// services, methods, messages, fields, oneofs, enums, enum values and
// extensions, at any nesting depth.
function indexSymbols(registry: FileRegistry): Map<string, DescFile> {
  const symbols = new Map<string, DescFile>();
  const add = (name: string, file: DescFile) => {
    if (!symbols.has(name)) {
      symbols.set(name, file);
    }
  };
  const addEnum = (descEnum: DescEnum) => {
    add(descEnum.typeName, descEnum.file);
    // Protobuf scopes enum values beside their enum (package.VALUE), but some
    // clients qualify them with the enum's name; both resolve.
    const scope = descEnum.typeName.slice(0, Math.max(0, descEnum.typeName.lastIndexOf(".")));
    for (const value of descEnum.values) {
      add(scope === "" ? value.name : `${scope}.${value.name}`, descEnum.file);
      add(`${descEnum.typeName}.${value.name}`, descEnum.file);
    }
  };
  const addMessage = (message: DescMessage) => {
    add(message.typeName, message.file);
    for (const field of message.fields) {
      add(`${message.typeName}.${field.name}`, message.file);
    }
    for (const oneof of message.oneofs) {
      add(`${message.typeName}.${oneof.name}`, message.file);
    }
    message.nestedMessages.forEach(addMessage);
    // Map entries are real messages on the wire and in the descriptor, but
    // protobuf-es does not list them among the nested messages.
    for (const nested of message.proto.nestedType) {
      if (nested.options?.mapEntry === true) {
        const entryName = `${message.typeName}.${nested.name}`;
        add(entryName, message.file);
        for (const field of nested.field) {
          add(`${entryName}.${field.name}`, message.file);
        }
      }
    }
    message.nestedEnums.forEach(addEnum);
    for (const extension of message.nestedExtensions) {
      add(extension.typeName, extension.file);
    }
  };
  for (const file of registry.files) {
    for (const service of file.services) {
      add(service.typeName, file);
      for (const method of service.methods) {
        add(`${service.typeName}.${method.name}`, file);
      }
    }
    file.messages.forEach(addMessage);
    file.enums.forEach(addEnum);
    for (const extension of file.extensions) {
      add(extension.typeName, file);
    }
  }
  return symbols;
}

function indexExtensionNumbers(registry: FileRegistry): Map<string, number[]> {
  const numbers = new Map<string, number[]>();
  for (const descriptor of registry) {
    if (descriptor.kind === "extension") {
      const extendee = descriptor.extendee.typeName;
      numbers.set(extendee, [...(numbers.get(extendee) ?? []), descriptor.number].sort((a, b) => a - b));
    }
  }
  return numbers;
}
