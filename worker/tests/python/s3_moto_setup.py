"""Prepares a fresh moto_server for worker/tests/s3_moto.rs and reports what minio sees.

usage: s3_moto_setup.py ENDPOINT BUCKET N_BULK

* creates an IAM user with an access key and an allow-all inline policy;
* creates BUCKET with N_BULK small objects under ``bulk/`` plus a few objects whose keys need
  encoding, and one multipart object;
* lists the bucket with the minio client (the reference's client) and records, per object, what
  ``s3_bucket_sync_path`` would put into a chunk: key, size and ``last_modified.timestamp()``;
* switches moto's request authentication on (``/moto-api/reset-auth`` with 0), so from then on
  every request must carry a valid SigV4 signature of that key pair.

Prints one JSON object: ``{"access_key", "secret_key", "objects": [[key, size, mtime], ...]}``.
"""

import io
import json
import sys
import urllib.request

import boto3
from minio import Minio

endpoint, bucket, n_bulk = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = f"http://{endpoint}"
setup = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")

iam = boto3.client("iam", **setup)
iam.create_user(UserName="ingest")
iam.put_user_policy(
    UserName="ingest",
    PolicyName="all",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
)
key = iam.create_access_key(UserName="ingest")["AccessKey"]

s3 = boto3.client("s3", **setup)
s3.create_bucket(Bucket=bucket)
for i in range(n_bulk):
    s3.put_object(Bucket=bucket, Key=f"bulk/{i:05d}.txt", Body=f"object {i}\n".encode())
# Keys that need encoding in paths and listings (moto does not encode '+' in url listings, so
# minio would misread it; it is left out here).
for name in ["dir a/café.txt", "odd/a&b=c?d#e.txt", "odd/~tilde%41.txt", "prefix2/x.txt", "top.txt"]:
    s3.put_object(Bucket=bucket, Key=name, Body=("content of " + name).encode())
s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
# A multipart object: 2 parts of 5 MiB + 1 byte.
upload = s3.create_multipart_upload(Bucket=bucket, Key="multi/big.bin")
parts = []
for number, body in enumerate([b"a" * (5 << 20), b"b" * (5 << 20), b"c"], start=1):
    part = s3.upload_part(Bucket=bucket, Key="multi/big.bin", UploadId=upload["UploadId"], PartNumber=number, Body=body)
    parts.append({"ETag": part["ETag"], "PartNumber": number})
s3.complete_multipart_upload(Bucket=bucket, Key="multi/big.bin", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts})

minio = Minio(endpoint, access_key="setup", secret_key="setup", secure=False)
objects = [[o.object_name, o.size, o.last_modified.timestamp()] for o in minio.list_objects(bucket, recursive=True)]

# A text body: flask would consume a form-encoded one before moto reads it.
request = urllib.request.Request(f"{url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"})
# No proxy from the environment: moto is on loopback.
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request).read()

print(json.dumps({"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"], "objects": objects}))
