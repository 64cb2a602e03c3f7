package control

const osSocketPath = `\\.\pipe\timesync`
