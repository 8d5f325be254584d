// Command etcd is etcd's own server, as its release binary starts it (server/main.go upstream).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
