// Command gen draws timesync's icons and writes them to assets/icons:
// the tray icons for each state (synchronized, syncing, unsynchronized,
// unreachable), each for light and dark panels, as PNG at the sizes
// Linux panels ask for, as ICO for Windows, and the application icon.
// Run it with "go generate ./assets" after changing a shape; the assets
// test fails when the committed files differ from what it draws.
//
// The states differ by shape as well as by colour, so that they are
// told apart without colour vision: a disc with a check mark, a clock
// (ring with hands), a triangle with an exclamation mark, a hollow
// square with a cross.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/timesync/timesync/assets/draw"
)

func main() {
	out := flag.String("o", "icons", "output directory")
	flag.Parse()
	files, err := draw.All()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(*out, f.Name), f.Data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("wrote %d files to %s\n", len(files), *out)
}
