module github.com/cachedgo/cached

go 1.25

require (
	github.com/maypok86/otter/v2 v2.4.0
	go.uber.org/goleak v1.3.0
)

require github.com/bradfitz/gomemcache v0.0.0-20260422231931-4d751bb6e37c
