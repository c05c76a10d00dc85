package backup_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"kassa/backup"
)

// An operator's replica URL is checked before anything starts; a region
// then restores its database from the replica if its disk is empty and
// keeps replicating while it runs.
func Example() {
	fmt.Println(backup.ValidateURL("s3://AKIA:secret@bucket/kassa"))

	dir, _ := os.MkdirTemp("", "kassa-backup-example")
	defer os.RemoveAll(dir)
	db, url := filepath.Join(dir, "kassa.db"), "file://"+filepath.Join(dir, "backup")
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	restored, err := backup.RestoreIfMissing(ctx, url, db, quiet)
	fmt.Println(restored, err)
	r, err := backup.Start(ctx, backup.Options{DBPath: db, Settings: backup.Settings{URL: url}, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Close(ctx))
	// Output:
	// backup: s3 replica URL must not carry credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
	// false <nil>
	// <nil>
}
