"""Unpack XML bodies with python-irodsclient's own message classes and print the field values.

Used by the Rust cross-check tests ("Rust writes, PRC reads"). Reads a JSON list of
{"class": <irods.message class name>, "xml": <text>} on stdin and writes a JSON list of field
dictionaries (bytes as {"b64": ...}) on stdout, parsing with PRC's default (STANDARD_XML) parser.
"""

import base64
import json
import sys

import irods.message as m


class _FakeSession:
    server_version = (4, 3, 4)


def plain(value):
    if isinstance(value, m.Message):
        return {name: plain(value._values.get(name)) for name, _ in value._ordered_properties}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    return value


def unpack(cls_name, xml_text):
    root = m.ET().fromstring(xml_text.encode("utf-8"))
    if cls_name == "ObjCopyRequest":
        # PRC never unpacks this one itself: its two structs share the tag DataObjInp_PI.
        parts = []
        for el in root.findall("DataObjInp_PI"):
            part = m.FileOpenRequest()
            part.unpack(el)
            parts.append(plain(part))
        return {"tag": root.tag, "parts": parts}
    if cls_name == "ModDataObjMeta":
        info = m.DataObjInfo_for_session(_FakeSession())()
        info.unpack(root.find("DataObjInfo_PI"))
        reg = m.StringStringMap()
        reg.unpack(root.find("KeyValPair_PI"))
        return {"tag": root.tag, "dataObjInfo": plain(info), "regParam": plain(reg)}
    cls = getattr(m, cls_name)
    msg = cls.__new__(cls)
    m.Message.__init__(msg)
    msg.unpack(root)
    out = plain(msg)
    out["tag"] = root.tag
    return out


def main():
    requests = json.load(sys.stdin)
    json.dump([unpack(r["class"], r["xml"]) for r in requests], sys.stdout)


if __name__ == "__main__":
    main()
