// Package devdb holds pg.sh, the script `make run` and `make test` use to find or
// start PostgreSQL: DATABASE_URL when set, else a server on 127.0.0.1:5432, else a
// private cluster under the repository (installing Debian's postgresql package
// first when no binaries exist). It also starts the read-replica tests' pair and
// the scale bench's own cluster; PgSh runs it from Go. The tests here prove the
// private path by making the probe find nothing, and the scale cluster's restart
// with new settings.
package devdb
