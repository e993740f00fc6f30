module gvstress

go 1.19
