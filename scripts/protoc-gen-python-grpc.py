"""A protoc plugin wrapping grpcio-tools, which ships protoc as a library
rather than as plugins: it writes the descriptors of the request to a
descriptor set, runs grpcio-tools' protoc on it with the python, pyi and
grpc_python generators, and answers with the files they wrote."""

import os
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as scratch:
        descriptor_set = os.path.join(scratch, "descriptors.pb")
        with open(descriptor_set, "wb") as out:
            out.write(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        generated = os.path.join(scratch, "out")
        os.mkdir(generated)
        status = protoc.main(
            [
                "protoc",
                f"--descriptor_set_in={descriptor_set}",
                f"--python_out={generated}",
                f"--pyi_out={generated}",
                f"--grpc_python_out={generated}",
                *request.file_to_generate,
            ]
        )
        if status != 0:
            response.error = f"grpcio-tools' protoc failed with status {status}"
        else:
            for directory, _, names in os.walk(generated):
                for name in sorted(names):
                    path = os.path.join(directory, name)
                    with open(path, encoding="utf-8") as source:
                        response.file.add(name=os.path.relpath(path, generated), content=source.read())
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
