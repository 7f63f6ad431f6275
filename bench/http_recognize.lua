-- wrk script: POST one photo as multipart/form-data to the DeepStack recognize endpoint.
-- Usage: IMAGE=path/to/photo.jpg wrk -s bench/http_recognize.lua http://127.0.0.1:PORT
local path = os.getenv("IMAGE")
local file = assert(io.open(path, "rb"), "cannot open IMAGE=" .. tostring(path))
local image = file:read("*a")
file:close()
local boundary = "----siamfacewrkboundary"
wrk.method = "POST"
wrk.path = os.getenv("ENDPOINT") or "/v1/vision/face/recognize"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
  'Content-Disposition: form-data; name="image"; filename="probe.jpg"\r\n' ..
  "Content-Type: image/jpeg\r\n\r\n" .. image .. "\r\n--" .. boundary .. "--\r\n"

-- summary.errors.status counts the non-2xx answers: this endpoint gives 200, or 503 when the
-- server's line is full. requests_per_s counts the answered (200) requests only.

function done(summary, latency, requests)
  io.write(string.format("RESULT requests_per_s=%.2f p50_ms=%.1f p99_ms=%.1f requests=%d status_503=%d errors=%d\n",
    (summary.requests - summary.errors.status) / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
