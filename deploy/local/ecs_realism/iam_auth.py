"""IAM enforcement (``POST /moto-api/reset-auth``): signatures of REST requests without a body.

moto gap: with IAM enforcement on, moto recomputes each request's SigV4 signature from
``self._body or self._data``. For a REST request without a body (Route53's GET
ListResourceRecordSets and GetHostedZone, say), ``_data`` holds the parameters moto parsed
from the URI, so moto signs a form body the client never sent, and every such request
fails with SignatureDoesNotMatch, even for an administrator. The signature covers the
bytes on the wire, so this signs exactly those: the raw body, empty when there is none.
S3 requests use moto's S3IAMRequest, whose signing this leaves alone.
"""

from __future__ import annotations

from moto.iam.access_control import IAMRequest
from botocore.awsrequest import AWSRequest


def create_aws_request(self: IAMRequest) -> AWSRequest:
    signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    bodyless = self._method in ("GET", "HEAD", "DELETE")
    data = self._body or (b"" if bodyless else self._data)
    request = AWSRequest(method=self._method, url=self._path, data=data, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


PATCHES = {IAMRequest: {"_create_aws_request": create_aws_request}}
