<?php
// pick.php is the reference for ketama_test.go: it asks PHP's memcached
// extension (libmemcached) which server each key maps to.
//
// stdin:  {"servers": [{"host": "127.0.0.1", "port": 11211, "weight": 0}, ...],
//          "keys": ["<base64 key>", ...]}
// stdout: {"libmemcached": "<version>", "picks": [<server index or -1>, ...]}
//
// A pick is -1 when libmemcached rejects the key (empty or over 250 bytes).
// No server is contacted: getServerByKey answers from the continuum.

if (!extension_loaded('memcached')) {
    fwrite(STDERR, "pick.php: the memcached extension is not loaded\n");
    exit(2);
}

$in = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);

$m = new Memcached();
if (!$m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, true)) {
    fwrite(STDERR, "pick.php: setOption(OPT_LIBKETAMA_COMPATIBLE) failed\n");
    exit(1);
}

$index = [];
$list = [];
foreach ($in['servers'] as $i => $s) {
    $list[] = [$s['host'], $s['port'], $s['weight']];
    $index[$s['host'] . "\0" . $s['port']] = $i;
}
if (!$m->addServers($list)) {
    fwrite(STDERR, "pick.php: addServers failed: " . $m->getResultMessage() . "\n");
    exit(1);
}

$picks = [];
foreach ($in['keys'] as $b64) {
    $r = $m->getServerByKey(base64_decode($b64, true));
    if ($r === false) {
        $picks[] = -1;
        continue;
    }
    $id = $r['host'] . "\0" . $r['port'];
    if (!isset($index[$id])) {
        fwrite(STDERR, "pick.php: unknown server {$r['host']}:{$r['port']}\n");
        exit(1);
    }
    $picks[] = $index[$id];
}

echo json_encode([
    'libmemcached' => Memcached::LIBMEMCACHED_VERSION_HEX,
    'picks' => $picks,
]), "\n";
