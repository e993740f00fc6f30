module trapbench

go 1.19
