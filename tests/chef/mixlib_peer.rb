# Ruby's mixlib-authentication (the reference implementation) as a test peer.
# Reads a JSON array of cases on stdin and writes a JSON array of results, one per case:
#   {"op": "sign", "method", "path", "body_b64", "user_id", "timestamp", "version", "private_key", "headers"}
#     -> {"headers": {...}}   (SignedHeaderAuth.signing_object(...).sign)
#   {"op": "verify", "method", "path", "body_b64", "headers", "public_key", "time_skew"}
#     -> {"authenticated", "signature", "timestamp", "content_hash", "error"}
# Ruby 3.1 on Debian 12: "openssl" must be loaded before the gem's `require "openssl/digest"`.
require "openssl"
require "base64"
require "json"
require "mixlib/authentication/signedheaderauth"
require "mixlib/authentication/signatureverification"

# What SignatureVerification reads from a Rack/Merb request: env (HTTP_* headers), method, path, params, body.
FakeRackRequest = Struct.new(:env, :method, :path, :params, :raw_post)

def sign_case(c)
  signing = Mixlib::Authentication::SignedHeaderAuth.signing_object(
    http_method: c["method"].downcase.to_sym, path: c["path"], body: Base64.decode64(c["body_b64"]),
    timestamp: c["timestamp"], user_id: c["user_id"], proto_version: c["version"], headers: c["headers"] || {}
  )
  key = OpenSSL::PKey::RSA.new(c["private_key"])
  { "headers" => signing.sign(key, { sign_version: c["version"] }) }
end

def verify_case(c)
  env = { "HTTP_HOST" => "127.0.0.1" }
  c["headers"].each { |name, value| env["HTTP_" + name.upcase.tr("-", "_")] = value }
  request = FakeRackRequest.new(env, c["method"].upcase, c["path"], {}, Base64.decode64(c["body_b64"]))
  verifier = Mixlib::Authentication::SignatureVerification.new
  error = nil
  begin
    verifier.authenticate_user_request(request, OpenSSL::PKey::RSA.new(c["public_key"]), c["time_skew"] || 900)
  rescue Mixlib::Authentication::AuthenticationError, Mixlib::Authentication::MissingAuthenticationHeader => e
    error = e.message
  end
  { "authenticated" => verifier.valid_request?, "signature" => verifier.valid_signature?,
    "timestamp" => verifier.valid_timestamp?, "content_hash" => verifier.valid_content_hash?, "error" => error }
end

results = JSON.parse($stdin.read).map do |c|
  c["op"] == "sign" ? sign_case(c) : verify_case(c)
rescue StandardError => e
  { "error" => "#{e.class}: #{e.message}" }
end
puts JSON.generate(results)
