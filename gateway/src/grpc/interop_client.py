"""Interoperability client for the gRPC adapter, on an independent gRPC stack.

Uses Debian's python3-grpcio and python3-grpc-tools only (no pip). Stubs are
generated from proto/loyalty.proto into a temporary folder at run time. The
protoc bundled with Debian 12's grpc-tools (libprotoc 3.5) predates proto3
`optional`; when it rejects the file, the `optional` labels are removed from a
copy first. That leaves the wire format unchanged (same numbers and types;
unset fields are simply not sent), so the messages stay compatible; only
presence tracking on this side is lost.

Usage: interop_client.py ADDRESS TOKEN PROTO_PATH
Prints one JSON object on stdout with what each call returned; exits 1 with a
message on stderr when something fails outside the calls under test.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import grpc


def generate_stubs(proto_path, out_dir):
    """Runs grpc_tools.protoc; returns True when `optional` had to be stripped."""
    source_dir = os.path.join(out_dir, "proto")
    os.mkdir(source_dir)
    copy = os.path.join(source_dir, "loyalty.proto")
    shutil.copyfile(proto_path, copy)
    if run_protoc(source_dir, out_dir, copy).returncode == 0:
        return False
    with open(copy, encoding="utf-8") as f:
        text = f.read()
    with open(copy, "w", encoding="utf-8") as f:
        f.write(re.sub(r"^(\s*)optional\s+", r"\1", text, flags=re.MULTILINE))
    result = run_protoc(source_dir, out_dir, copy)
    if result.returncode != 0:
        raise RuntimeError("grpc_tools.protoc failed:\n" + result.stderr)
    return True


def run_protoc(source_dir, out_dir, proto):
    command = [
        sys.executable, "-m", "grpc_tools.protoc", "-I" + source_dir,
        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir, proto,
    ]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def reply_dict(pb, reply):
    """The fields the test looks at, with the status as its enum name."""
    result = {"status": pb.Status.Name(reply.status)}
    for name in ("field", "message"):
        value = getattr(reply, name)
        if value:
            result[name] = value
    for name in ("entry", "points", "hold"):
        value = getattr(reply, name)
        if value:
            result[name] = value
    if reply.HasField("balance"):
        b = reply.balance
        result["balance"] = {"available": b.available, "pending": b.pending, "held": b.held}
    if reply.tier:
        result["tier"] = reply.tier
    if len(reply.breakdown) > 0:
        result["breakdown"] = [{"id": line.id, "points": line.points} for line in reply.breakdown]
    return result


def rpc_error(error):
    return {"code": error.code().name, "details": error.details()}


def unary_calls(pb, stub, metadata):
    results = {}
    enroll = pb.EnrollRequest(account="py-1", key="join", program="demo")
    results["enroll"] = reply_dict(pb, stub.Enroll(enroll, metadata=metadata, timeout=10))
    earn = pb.EarnRequest(account="py-1", key="earn-1", points=250, amount=2500,
                          source=pb.Source(channel="python"))
    results["earn"] = reply_dict(pb, stub.Earn(earn, metadata=metadata, timeout=10))
    replay = stub.Earn(earn, metadata=metadata, timeout=10)
    results["replay"] = reply_dict(pb, replay)
    redeem = pb.RedeemRequest(account="py-1", key="redeem-1", points=100_000)
    results["insufficient"] = reply_dict(pb, stub.Redeem(redeem, metadata=metadata, timeout=10))
    invalid = pb.EarnRequest(account="py-1", key="earn-bad", points=-5)
    results["invalid"] = reply_dict(pb, stub.Earn(invalid, metadata=metadata, timeout=10))
    balance = pb.AccountRequest(account="py-1")
    results["balance"] = reply_dict(pb, stub.Balance(balance, metadata=metadata, timeout=10))
    try:
        stub.Balance(balance, timeout=10)
        results["unauthenticated"] = {"code": "OK"}
    except grpc.RpcError as error:
        results["unauthenticated"] = rpc_error(error)
    return results


def stream_requests(pb, count):
    """Earns and balance reads on two accounts, plus one request with no op."""
    for i in range(count):
        account = "py-s%d" % (i % 2)
        if i % 3 == 2:
            yield pb.StreamRequest(id="b%d" % i, balance=pb.AccountRequest(account=account))
        else:
            earn = pb.EarnRequest(account=account, key="s%d" % i, points=5)
            yield pb.StreamRequest(id="e%d" % i, earn=earn)
    yield pb.StreamRequest(id="no-op")


def stream_call(pb, stub, metadata, count):
    replies = stub.Stream(stream_requests(pb, count), metadata=metadata, timeout=30)
    return [{"id": r.id, **reply_dict(pb, r.reply)} for r in replies]


def bulk_call(pb, stub, metadata, count, per_message):
    """The same requests on other accounts, `per_message` to a BulkRequest."""
    requests = [
        pb.StreamRequest(id=r.id, earn=pb.EarnRequest(account="py-b" + r.earn.account[-1], key="b" + r.earn.key, points=5))
        if r.WhichOneof("op") == "earn"
        else r
        for r in stream_requests(pb, count)
    ]
    messages = (
        pb.BulkRequest(requests=requests[i:i + per_message]) for i in range(0, len(requests), per_message)
    )
    replies = stub.Bulk(messages, metadata=metadata, timeout=30)
    return [[{"id": r.id, **reply_dict(pb, r.reply)} for r in message.replies] for message in replies]


def main(argv):
    if len(argv) != 4:
        print("usage: interop_client.py ADDRESS TOKEN PROTO_PATH", file=sys.stderr)
        return 2
    address, token, proto_path = argv[1], argv[2], argv[3]
    out_dir = tempfile.mkdtemp(prefix="loyalty-interop-")
    try:
        stripped = generate_stubs(proto_path, out_dir)
        sys.path.insert(0, out_dir)
        import loyalty_pb2 as pb  # noqa: E402 (generated above)
        import loyalty_pb2_grpc as pb_grpc  # noqa: E402
        metadata = (("authorization", "Bearer " + token),)
        with grpc.insecure_channel(address) as channel:
            stub = pb_grpc.LoyaltyStub(channel)
            results = unary_calls(pb, stub, metadata)
            results["stream"] = stream_call(pb, stub, metadata, 300)
            results["bulk"] = bulk_call(pb, stub, metadata, 300, 100)
        results["grpcioVersion"] = grpc.__version__
        results["optionalStripped"] = stripped
        print(json.dumps(results))
        return 0
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as error:  # report anything unexpected plainly to the test
        print("interop client failed: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        sys.exit(1)
