module github.com/labfleet/labfleet/stacks/apps

// Built inside the image from Debian trixie's Go (1.24), so nothing is pulled; stdlib only.
go 1.24
