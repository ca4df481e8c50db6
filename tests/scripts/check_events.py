#!/usr/bin/python3
# Independent checker for TensorBoard event files written by Plexus: verifies the TFRecord
# framing and masked CRC-32Cs itself, parses payloads with Google's protobuf library.
"""Usage: check_events.py [--buckets] EVENTS_FILE

Checks, per record: 8-byte length, masked CRC-32C of the length, payload, masked
CRC-32C of the payload (CRC computed here, not by the C code under test); then that the
payload parses as tensorboard.Event (tests/tools/tensorboard_event.proto, compiled with
protoc at run time) and, walking the raw wire format against the same descriptors, that
it holds only known fields with the right wire types, minimal varints and no repeated
singular fields. Semantic checks: the first event is file_version "brain.Event:2";
scalars are rank-0 DT_FLOAT tensors of the "scalars" plugin (or simple_value);
histograms have matching, increasing bucket arrays whose counts add up to num and agree
with min/max.

Prints one tab-separated line per event:
  file_version <wall_time> <version>
  scalar <step> <tag> <value>
  histogram <step> <tag> min=<> max=<> num=<> sum=<> sum_squares=<> buckets=<k>
  bucket <limit> <count>            (after each histogram, with --buckets)
  ok <records>
Floats are printed with repr(), which round-trips exactly. Exits 1 on any mismatch and
2 when the tools (protobuf module, protoc) are missing.
"""

import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "tensorboard_event.proto")


def die_missing(what):
    print("check_events: MISSING TOOL: %s (install with: apt-get install -y python3-protobuf "
          "protobuf-compiler; run with /usr/bin/python3)" % what, file=sys.stderr)
    sys.exit(2)


try:
    from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.message import DecodeError
except ImportError as e:  # the test must fail, not skip, so say exactly what is wrong
    die_missing("python module google.protobuf (%s)" % e)


# ---- CRC-32C, written here independently of src/formats/crc32c.c ----
def _make_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# The checker's own CRC must be right before it can judge anything (RFC 3720 / TF vectors).
assert crc32c(b"123456789") == 0xE3069283
assert crc32c(bytes(32)) == 0x8A9136AA
assert masked(crc32c(struct.pack("<Q", 24))) == 0x224B7FA3
assert masked(crc32c(b"\x1a\x11CRC test, one two")) == 0x5794D08A


# ---- message classes from the .proto ----
def load_classes():
    protoc = shutil.which("protoc")
    if not protoc:
        die_missing("protoc (protobuf-compiler)")
    tmp = tempfile.mkdtemp(prefix="px_check_events_")
    try:
        out = os.path.join(tmp, "event.desc")
        r = subprocess.run([protoc, "--proto_path=" + HERE, "--descriptor_set_out=" + out,
                            os.path.basename(PROTO)], capture_output=True, text=True)
        if r.returncode != 0:
            print("check_events: ERROR protoc failed on %s:\n%s" % (PROTO, r.stderr),
                  file=sys.stderr)
            sys.exit(1)
        with open(out, "rb") as f:
            fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pool = descriptor_pool.DescriptorPool()
    for fdp in fds.file:
        pool.Add(fdp)
    desc = pool.FindMessageTypeByName("tensorboard.Event")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return desc, message_factory.GetMessageClass(desc)
    return desc, message_factory.MessageFactory(pool).GetPrototype(desc)


# ---- strict wire-format walk against the descriptors ----
FD = descriptor.FieldDescriptor
_WIRE = {FD.TYPE_DOUBLE: 1, FD.TYPE_FIXED64: 1, FD.TYPE_SFIXED64: 1,
         FD.TYPE_FLOAT: 5, FD.TYPE_FIXED32: 5, FD.TYPE_SFIXED32: 5,
         FD.TYPE_STRING: 2, FD.TYPE_BYTES: 2, FD.TYPE_MESSAGE: 2}  # everything else: varint


class WireError(Exception):
    pass


def read_varint(buf, pos, end, what):
    start, shift, v = pos, 0, 0
    while True:
        if pos >= end:
            raise WireError("%s: truncated varint at byte %d" % (what, start))
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
        if pos - start >= 10:
            raise WireError("%s: varint longer than 10 bytes at byte %d" % (what, start))
    if pos - start > 1 and buf[pos - 1] == 0:
        raise WireError("%s: non-minimal varint at byte %d" % (what, start))
    return v, pos


def walk(buf, pos, end, desc, path):
    seen = set()
    while pos < end:
        key, pos = read_varint(buf, pos, end, path)
        num, wt = key >> 3, key & 7
        field = desc.fields_by_number.get(num)
        if field is None:
            raise WireError("%s: unknown field number %d" % (path, num))
        where = "%s.%s" % (path, field.name)
        want = _WIRE.get(field.type, 0)
        repeated = field.label == FD.LABEL_REPEATED
        if not repeated:
            if num in seen:
                raise WireError("%s: singular field written twice" % where)
            seen.add(num)
        if wt == 0:
            if want != 0:
                raise WireError("%s: wire type 0, expected %d" % (where, want))
            _, pos = read_varint(buf, pos, end, where)
        elif wt in (1, 5):
            if want != wt:
                raise WireError("%s: wire type %d, expected %d" % (where, wt, want))
            pos += 8 if wt == 1 else 4
            if pos > end:
                raise WireError("%s: truncated fixed-width value" % where)
        elif wt == 2:
            n, pos = read_varint(buf, pos, end, where)
            if pos + n > end:
                raise WireError("%s: length %d runs past the end of its message" % (where, n))
            if field.type == FD.TYPE_MESSAGE:
                walk(buf, pos, pos + n, field.message_type, where)
            elif want != 2:  # a packed repeated number
                if not repeated:
                    raise WireError("%s: length-delimited data for a singular number" % where)
                if want in (1, 5) and n % (8 if want == 1 else 4):
                    raise WireError("%s: packed length %d is not a multiple of the width" % (where, n))
                if want == 0:
                    p = pos
                    while p < pos + n:
                        _, p = read_varint(buf, p, pos + n, where)
            pos += n
        else:
            raise WireError("%s: unsupported wire type %d" % (where, wt))
    if pos != end:
        raise WireError("%s: message overruns its length" % path)


def r(x):
    return repr(float(x))


def check_value(ev, v, errors, show_buckets, out):
    kind = v.WhichOneof("value")
    tag = v.tag
    where = "step %d tag %r" % (ev.step, tag)
    if not tag:
        errors.append("%s: empty tag" % where)
    if kind == "simple_value":
        out.append("scalar\t%d\t%s\t%s" % (ev.step, tag, r(v.simple_value)))
    elif kind == "tensor":
        t = v.tensor
        plugin = v.metadata.plugin_data.plugin_name if v.HasField("metadata") else ""
        if plugin != "scalars":
            errors.append("%s: tensor value with plugin %r, expected 'scalars'" % (where, plugin))
            return
        if t.dtype != 1:
            errors.append("%s: scalar dtype %d, expected DT_FLOAT (1)" % (where, t.dtype))
            return
        if len(t.tensor_shape.dim) or t.tensor_shape.unknown_rank:
            errors.append("%s: scalar tensor is not rank 0" % where)
            return
        if len(t.float_val) == 1 and not t.tensor_content:
            x = t.float_val[0]
        elif len(t.tensor_content) == 4 and not len(t.float_val):
            x = struct.unpack("<f", t.tensor_content)[0]
        else:
            errors.append("%s: scalar needs one float_val or 4 bytes of tensor_content" % where)
            return
        if v.metadata.data_class not in (0, 1):
            errors.append("%s: scalar data_class %d" % (where, v.metadata.data_class))
        out.append("scalar\t%d\t%s\t%s" % (ev.step, tag, r(x)))
    elif kind == "histo":
        h = v.histo
        lim, cnt = list(h.bucket_limit), list(h.bucket)
        if len(lim) != len(cnt) or not lim:
            errors.append("%s: %d bucket limits and %d buckets" % (where, len(lim), len(cnt)))
            return
        if any(not b > a for a, b in zip(lim, lim[1:])):
            errors.append("%s: bucket limits are not increasing" % where)
        if any(c < 0 or c != math.floor(c) for c in cnt):
            errors.append("%s: bucket counts must be non-negative integers" % where)
        if sum(cnt) != h.num:
            errors.append("%s: buckets add up to %r, num is %r" % (where, sum(cnt), h.num))
        if h.num > 0:
            if not (math.isfinite(h.min) and math.isfinite(h.max) and h.min <= h.max):
                errors.append("%s: min %r / max %r" % (where, h.min, h.max))
            if h.sum_squares < 0:
                errors.append("%s: negative sum_squares" % where)
            # TF buckets are [limit[i-1], limit[i]): every non-empty one must overlap [min, max].
            for i, c in enumerate(cnt):
                if c > 0 and not (lim[i] > h.min and (i == 0 or lim[i - 1] <= h.max)):
                    errors.append("%s: bucket %d (limit %r) holds %r values outside [min, max]"
                                  % (where, i, lim[i], c))
                    break
        out.append("histogram\t%d\t%s\tmin=%s\tmax=%s\tnum=%s\tsum=%s\tsum_squares=%s\tbuckets=%d"
                   % (ev.step, tag, r(h.min), r(h.max), r(h.num), r(h.sum), r(h.sum_squares),
                      len(lim)))
        if show_buckets:
            for a, c in zip(lim, cnt):
                out.append("bucket\t%s\t%s" % (r(a), r(c)))
    else:
        out.append("value\t%d\t%s\t%s" % (ev.step, tag, kind))


def main(argv):
    show_buckets = "--buckets" in argv
    args = [a for a in argv if a != "--buckets"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 1
    path = args[0]
    desc, Event = load_classes()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        print("check_events: ERROR cannot read %s: %s" % (path, e), file=sys.stderr)
        return 1
    errors, out = [], []
    pos, rec = 0, 0
    while pos < len(data):
        at = "record %d (byte %d)" % (rec, pos)
        if len(data) - pos < 12:
            errors.append("%s: %d trailing bytes, too short for a record header"
                          % (at, len(data) - pos))
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        (len_crc,) = struct.unpack_from("<I", data, pos + 8)
        if len_crc != masked(crc32c(data[pos:pos + 8])):
            errors.append("%s: length CRC 0x%08x, expected 0x%08x"
                          % (at, len_crc, masked(crc32c(data[pos:pos + 8]))))
            break
        if length > len(data) - pos - 16:
            errors.append("%s: length %d runs past the end of the file" % (at, length))
            break
        payload = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if data_crc != masked(crc32c(payload)):
            errors.append("%s: data CRC 0x%08x, expected 0x%08x"
                          % (at, data_crc, masked(crc32c(payload))))
            break
        pos += 16 + length
        try:
            walk(payload, 0, len(payload), desc, "Event")
            ev = Event.FromString(payload)
        except (WireError, DecodeError) as e:
            errors.append("%s: %s" % (at, e))
            rec += 1
            continue
        what = ev.WhichOneof("what")
        if not (math.isfinite(ev.wall_time) and ev.wall_time > 0):
            errors.append("%s: wall_time %r" % (at, ev.wall_time))
        if ev.step < 0:
            errors.append("%s: negative step %d" % (at, ev.step))
        if rec == 0 and what != "file_version":
            errors.append("%s: the first event must carry file_version" % at)
        if what == "file_version":
            if rec != 0:
                errors.append("%s: file_version after the first record" % at)
            if ev.file_version != "brain.Event:2":
                errors.append("%s: file_version %r" % (at, ev.file_version))
            out.append("file_version\t%s\t%s" % (r(ev.wall_time), ev.file_version))
        elif what == "summary":
            if not ev.summary.value:
                errors.append("%s: empty summary" % at)
            for v in ev.summary.value:
                check_value(ev, v, errors, show_buckets, out)
        else:
            out.append("event\t%d\t%s" % (ev.step, what))
        rec += 1
    if rec == 0 and not errors:
        errors.append("%s holds no records" % path)
    for line in out:
        print(line)
    if errors:
        for e in errors:
            print("check_events: ERROR %s: %s" % (path, e), file=sys.stderr)
        return 1
    print("ok\t%d" % rec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
