package redisstore

import "github.com/redis/go-redis/v9"

// Replies of claimScript, in its first element.
const (
	claimExisting = 0 // not claimed; the second element is the record
	claimInserted = 1 // claimed a new record (absent or expired before)
	claimTookOver = 2 // took over an expired lease; the second element is the previous record
)

// Every script touches only KEYS[1]. Times are Unix milliseconds. A record is
// live while now < ex; a lease is over once le < now.

// claimScript: ARGV = now, token, fingerprint, lease end, expiry. A live
// in-progress record that token already owns is reported as claimed again,
// unchanged, so that a claim the client library re-sends after a lost reply
// does not lock its own caller out.
var claimScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'st', 'le', 'ex', 'tk')
if f[1] == '1' and f[4] == ARGV[2] and f[3] and tonumber(f[3]) > now then
  return {1}
end
if not f[1] or not f[3] or tonumber(f[3]) <= now then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'st', '1', 'tk', ARGV[2], 'fp', ARGV[3], 'le', ARGV[4], 'cl', '1', 'ca', ARGV[1], 'ex', ARGV[5])
  redis.call('PEXPIREAT', KEYS[1], ARGV[5])
  return {1}
end
if f[1] == '1' and f[2] and tonumber(f[2]) < now then
  local prev = redis.call('HGETALL', KEYS[1])
  redis.call('HSET', KEYS[1], 'tk', ARGV[2], 'fp', ARGV[3], 'le', ARGV[4], 'ex', ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'cl', 1)
  redis.call('PEXPIREAT', KEYS[1], ARGV[5])
  return {2, prev}
end
return {0, redis.call('HGETALL', KEYS[1])}
`)

// heartbeatScript: ARGV = token, now, lease end. Returns 1, or 0 when token
// does not own a live in-progress record.
var heartbeatScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'st', 'tk', 'ex')
if f[1] ~= '1' or f[2] ~= ARGV[1] or not f[3] or tonumber(f[3]) <= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'le', ARGV[3])
if tonumber(f[3]) < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'ex', ARGV[3])
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return 1
`)

// completeScript: ARGV = token, now, expiry, status, headers, body. Returns 1,
// or 0 when token does not own a live in-progress record.
var completeScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'st', 'tk', 'ex')
if f[1] ~= '1' or f[2] ~= ARGV[1] or not f[3] or tonumber(f[3]) <= tonumber(ARGV[2]) then
  return 0
end
redis.call('HDEL', KEYS[1], 'tk', 'le')
redis.call('HSET', KEYS[1], 'st', '2', 'co', ARGV[2], 'ex', ARGV[3], 'rs', ARGV[4], 'rh', ARGV[5], 'rb', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`)

// releaseScript: ARGV = token. Deletes the record and returns 1, or returns 0
// when token does not own an in-progress record.
var releaseScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'st', 'tk')
if f[1] ~= '1' or f[2] ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
`)
